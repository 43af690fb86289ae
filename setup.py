"""Build the one C extension (dedup/_shingle.c: SHA-1 of word n-grams and of lines); everything else is in pyproject.toml."""
from setuptools import Extension, setup

setup(ext_modules=[Extension("dedup._shingle", ["dedup/_shingle.c"], extra_compile_args=["-O3"], optional=True)])
