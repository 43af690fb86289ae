"""Reports with no Beam: run summaries, `llamapipe stats` tables and HTML, and the SVG charts they draw."""
