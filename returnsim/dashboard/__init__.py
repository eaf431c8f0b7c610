"""The classroom tools: a live dashboard in the browser (``returnsim dashboard``) and a printable report of a
results folder (``returnsim report``).

The dashboard needs the optional extra ``returnsim[dashboard]`` (Panel, with Bokeh); the report needs nothing
beyond the package's own dependencies. Modules: ``session`` (a run driven from the page; the one reader of
model internals, ``region_state``), ``policy`` (what each control means as an event), ``geo`` (map data),
``charts`` (Bokeh figures), ``app`` (the Panel page), ``report`` (the HTML report), ``cli`` (the commands).
"""
