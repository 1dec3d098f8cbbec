"""What the documentation site (``make docs``, mkdocs.yml) generates from the code: the CLI and parameter references."""
