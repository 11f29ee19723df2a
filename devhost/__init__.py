"""devhost: a local host for Python v2 Azure Functions apps with Durable Functions, without Core Tools.

Never deployed (listed in .funcignore). ``python -m devhost --help`` for the command line.
"""

__version__ = "0.1.0"
