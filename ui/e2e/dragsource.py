#!/usr/bin/python3
"""A small GTK window that offers the files given on its command line as a drag source
(text/uri-list), for the end-to-end test to drag them onto the app with xdotool, as a
person would from a file manager. It prints "ready X Y" with the middle of its button."""

import sys
from pathlib import Path

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk, GLib, Gtk  # noqa: E402

uris = [Path(p).resolve().as_uri() for p in sys.argv[1:]]

win = Gtk.Window(title="drag-source")
win.set_default_size(160, 120)
win.move(1100, 640)
button = Gtk.Button(label="drag me")
win.add(button)
button.drag_source_set(Gdk.ModifierType.BUTTON1_MASK, [], Gdk.DragAction.COPY)
button.drag_source_add_uri_targets()


def on_get(_widget, _ctx, data, _info, _time):
    data.set_uris(uris)


def on_end(*_):
    GLib.timeout_add(300, Gtk.main_quit)


button.connect("drag-data-get", on_get)
button.connect("drag-end", on_end)
win.connect("destroy", Gtk.main_quit)
win.show_all()


def report():
    x, y = win.get_position()
    w, h = win.get_size()
    print(f"ready {x + w // 2} {y + h // 2}", flush=True)
    return False


GLib.timeout_add(500, report)
Gtk.main()
