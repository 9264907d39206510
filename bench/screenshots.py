"""The screenshots of docs/grading.md: the class summary page and a student's feedback page.

    python -m bench.screenshots                # writes docs/images/summary_page.png, docs/images/feedback_page.png
    python -m bench.screenshots --out /tmp/x   # elsewhere

Grades a demo class for real in a scratch course (``.build/screenshots-course/``;
the real course is never touched): the zoo's correct submission, several of its
common mistakes (one of them twice, as a class has it), the release untouched
and a broken file (zoo/build.py). Then it writes the class summary page
(``course report --summary``) and the feedback pages (``course feedback``), and
photographs the whole summary page and the top (one viewport) of a feedback page, in headless Chromium (Debian's
``chromium``, as the tests use it) with every network request refused. The
PNGs are reduced to a 256-colour palette to keep them small.
"""

import argparse
import shutil
import time
from pathlib import Path

from coursetools.grading import report, summary
from coursetools.grading.feedback import generate_feedback
from coursetools.grading.sequential import grade_batch
from coursetools.layout import CourseLayout
from coursetools.settings import COURSE, ROOT
from zoo.build import ASSIGNMENT, NOTEBOOK, ZOO, ZOO_SUBMISSION_TIMEOUT_S, build_zoo

OUT = ROOT / "docs" / "images"
COURSE_DIR = COURSE.scratch / "screenshots-course"
CLASS = ("correct", "one-wrong", "clip-swapped-bounds", "clip-copy-in-loop", "clip-not-in-place",
         "sample-choice-without-p", "sample-no-reseed", "optimize-no-update", "untouched", "fault-invalid-json")
TWICE = {"clip-swapped-bounds": "clip-swapped-bounds-2"}  # a common mistake is made by more than one student
FEEDBACK_OF = "clip-swapped-bounds"  # the student whose feedback page is shown
VIEWPORT = {"width": 1280, "height": 900}


def graded_demo_class(course_dir=COURSE_DIR, log=print):
    """Build, grade and give feedback to the demo class in ``course_dir``; return the course folder."""
    course_dir = Path(course_dir)
    if course_dir.exists():
        shutil.rmtree(course_dir)
    build_zoo(course_dir, zoo=[e for e in ZOO if e.name in CLASS])
    layout = CourseLayout(course_dir)
    for name, copy in TWICE.items():
        shutil.copytree(layout.submitted(name, ASSIGNMENT), layout.submitted(copy, ASSIGNMENT))
    t = time.perf_counter()
    results = grade_batch(course_dir, ASSIGNMENT, timeout_s=ZOO_SUBMISSION_TIMEOUT_S, log=lambda *_: None)
    log(f"graded {len(results)} submissions in {time.perf_counter() - t:.0f} s")
    leaks = generate_feedback(course_dir, ASSIGNMENT)
    if leaks:
        raise SystemExit(f"the leak scan found {leaks}: no screenshot of a leaking page")
    reports = report.grade_report(course_dir, ASSIGNMENT)
    s = summary.summarize(reports, ASSIGNMENT, summary.hidden_cells(course_dir, ASSIGNMENT))
    summary.write_summary_html(s, layout.summary_html(ASSIGNMENT))
    return course_dir


WHOLE = {"summary_page.png"}  # photographed whole (the common mistakes are far down); the feedback page: its top


def chromium_path():
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise SystemExit("chromium not on PATH: run `sudo bash deploy/install-system-deps.sh hub`")
    return path


def screenshot(browser, page_path, png, full_page=False):
    """The top of ``page_path`` (one viewport; ``full_page``: all of it) as ``png``; the page may load nothing but
    itself."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    url = Path(page_path).resolve().as_uri()
    page.route("**/*", lambda r: r.continue_() if r.request.url == url else r.abort())
    page.goto(url)
    page.wait_for_load_state("load")
    page.screenshot(path=str(png), full_page=full_page)
    context.close()
    return png


def shrink(png):
    """``png`` as a 256-colour palette PNG, optimised."""
    from PIL import Image

    with Image.open(png) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(png, optimize=True)
    return png


def take_screenshots(course_dir, out=OUT, log=print):
    """``[summary png, feedback png]`` of the graded demo class in ``course_dir``, written to ``out``."""
    from playwright.sync_api import sync_playwright

    layout, out = CourseLayout(course_dir), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pages = {"summary_page.png": layout.summary_html(ASSIGNMENT),
             "feedback_page.png": layout.feedback(FEEDBACK_OF, ASSIGNMENT) / NOTEBOOK.replace(".ipynb", ".html")}
    written = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), headless=True,
                                    args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            for name, page in pages.items():
                png = shrink(screenshot(browser, page, out / name, full_page=name in WHOLE))
                log(f"wrote {png} ({png.stat().st_size // 1024} KiB) from {page}")
                written.append(png)
        finally:
            browser.close()
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(OUT), help="folder of the PNGs (default: docs/images)")
    parser.add_argument("--course", default=str(COURSE_DIR), help="scratch course folder (rebuilt)")
    args = parser.parse_args(argv)
    take_screenshots(graded_demo_class(args.course), args.out)


if __name__ == "__main__":
    main()
