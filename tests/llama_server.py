"""`python -m llama_cpp.server`, loading its model as copyforge loads the embedded models
(`app.llm.local.extra_buffer_types_off`: plain CPU buffers, which every CPU can decode)."""

import runpy

from app.llm.local import extra_buffer_types_off

if __name__ == "__main__":
    with extra_buffer_types_off():
        runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
