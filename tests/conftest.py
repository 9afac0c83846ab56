"""Test-wide settings: never reach the network, keep torch to one thread for repeatable speed."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
