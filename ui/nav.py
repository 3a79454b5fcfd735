"""The dashboard's pages, in menu order: one list for the router and the sidebar."""

PAGES = [
    ("pages/records.py", "Records", ":material/table_rows:"),
    ("pages/review.py", "Review", ":material/playlist_add_check:"),
    ("pages/quality.py", "Quality", ":material/rule:"),
    ("pages/map.py", "Map", ":material/scatter_plot:"),
    ("pages/duplicates.py", "Duplicates", ":material/content_copy:"),
    ("pages/select.py", "Select", ":material/checklist:"),
    ("pages/export.py", "Export", ":material/download:"),
    ("pages/load.py", "Load data", ":material/upload_file:"),
    ("pages/generate.py", "Generate", ":material/auto_awesome:"),
]
