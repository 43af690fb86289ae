"""Build the two C extensions (dedup/_shingle.c: SHA-1 of word n-grams and of lines; corpus/_normalize.c: CCNet's
character edits in one pass); everything else is in pyproject.toml. Both are optional: Python paths give the same values."""
from setuptools import Extension, setup

setup(ext_modules=[Extension(name, [source], extra_compile_args=["-O3"], optional=True)
                   for name, source in (("dedup._shingle", "dedup/_shingle.c"), ("corpus._normalize", "corpus/_normalize.c"))])
