"""nbgrader settings of the course's grader service (formgrader)."""

import os

c = get_config()  # noqa: F821

c.CourseDirectory.course_id = os.environ.get("DINO_HUB_COURSE_ID", "dinosaurus-island")
c.CourseDirectory.root = os.environ.get("DINO_HUB_COURSE_ROOT", os.getcwd())
