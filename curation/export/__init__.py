"""Export: prompt templates, shapes, leakage-free splits, files and a reproducible manifest."""

from curation.export.shapes import SHAPES
from curation.export.splits import STRATIFY, assign_splits, parse_splits
from curation.export.templates import TEMPLATES, Template, get_template
from curation.export.write import FORMATS, OVER, Options, export, prepare, preview_plan, preview_rows, zip_folder

__all__ = ["FORMATS", "OVER", "SHAPES", "STRATIFY", "TEMPLATES", "Options", "Template", "assign_splits", "export", "get_template",
           "parse_splits", "prepare", "preview_plan", "preview_rows", "zip_folder"]
