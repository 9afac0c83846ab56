"""The Gradio studio: one module per tab, thin callbacks (validate -> engine -> format)."""

from ui.studio import StudioSettings, build_studio, launch_kwargs, queue_kwargs

__all__ = ["StudioSettings", "build_studio", "launch_kwargs", "queue_kwargs"]
