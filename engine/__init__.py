"""MagPoet engine: the world, tokenizers, transformer, sampling, tasks and media I/O.

Nothing in this package imports Gradio; the UI in `ui/` talks to it through `engine.Engine`
(once the generator lands) and the modules re-exported here.
"""
