"""A sanitizing step for ``nbgrader autograde``: repair what ``DeduplicateIds`` leaves behind.

When a submission holds two cells with the same grade id (a student copied a
test or an answer cell), nbgrader's ``DeduplicateIds`` keeps the last one and
sets the others' ``metadata.nbgrader`` to ``{}``. nbgrader 0.9's
``OverwriteCells.add_missing_task_cells`` then fails with ``KeyError:
'grade_id'`` on those empty dicts, and the whole submission is lost.
:class:`DropEmptyNbgraderMetadata` runs between the two and removes the empty
dicts, so the copies run as ordinary code cells and the submission is graded.
"""

from nbgrader.preprocessors import NbGraderPreprocessor


class DropEmptyNbgraderMetadata(NbGraderPreprocessor):
    """Remove ``metadata.nbgrader`` entries that have no ``grade_id``."""

    def preprocess_cell(self, cell, resources, cell_index):
        meta = cell.get("metadata", {})
        if "nbgrader" in meta and not meta["nbgrader"].get("grade_id"):
            del meta["nbgrader"]
        return cell, resources
