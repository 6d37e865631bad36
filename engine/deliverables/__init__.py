"""Client deliverables: pure builders that turn final task results into transcripts, subtitles,
labeled datasets and quality reports (strings and JSON-ready dicts; no I/O)."""
