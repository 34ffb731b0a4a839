"""Faster equivalents of pdfminer.six's per-character code, for the sandbox children.

A page's text costs pdfminer.six a Python call chain per character: the character's box
through three helpers, each container's box through set_bbox, each comparison of two
characters through six methods that assert their argument's type, `min` and `max` called
for two or four floats, a logger's `debug` in the content parser's loop, one `write` per
character of output. The functions here do the same arithmetic, in the same order, on the
same floats, with the calls inlined: the same objects with the same attributes, so the same
text (tests/test_corpus_text.py compares every page of the corpus with stock `extract_text`
in a process without them). About a quarter of the CPU of a page goes.

They replace pdfminer.six's own only for the release they were read from (`FOR_RELEASE`):
another release runs its own code, unchanged. Only consumer/sandbox_child.py installs them;
a process that did not ask runs stock pdfminer.six.
"""

from __future__ import annotations

import logging

import pdfminer
from pdfminer import converter, layout, pdfdevice
from pdfminer.layout import (
    LTAnno,
    LTChar,
    LTContainer,
    LTText,
    LTTextBox,
    LTTextLineHorizontal,
    LTTextLineVertical,
)

FOR_RELEASE = "20260107"
# Loggers whose `debug` is called in a loop over a page's tokens or characters.
_CHATTY = ("psparser", "pdfinterp", "pdfparser", "pdfdocument", "pdfpage", "pdffont", "cmapdb")


def install() -> bool:
    """Put the equivalents in place of pdfminer.six's; False (nothing changed) on a release
    they were not read from."""
    if pdfminer.__version__ != FOR_RELEASE:
        return False
    for owner, name, equivalent in replacements():
        setattr(owner, name, equivalent)
    return True


def replacements() -> list[tuple[object, str, object]]:
    """(owner, attribute, equivalent): what install() sets."""
    found = [
        (LTChar, "__init__", _char_init),
        (layout.LTExpandableContainer, "add", _expand_add),
        (LTTextLineHorizontal, "add", _horizontal_line_add),
        (layout.LTLayoutContainer, "group_objects", _group_objects),
        (pdfdevice.PDFTextDevice, "render_string_horizontal", _render_string_horizontal),
        (converter.TextConverter, "receive_layout", _receive_layout),
    ]
    for name in _CHATTY:
        log = logging.getLogger(f"pdfminer.{name}")
        if not log.isEnabledFor(logging.DEBUG):  # a logger asked for debug keeps it
            found.append((log, "debug", _unlogged))
    return found


def _unlogged(*args, **kwargs):
    return None


def _char_init(
    self, matrix, font, fontsize, scaling, rise, text, textwidth, textdisp, ncs, graphicstate
):
    """LTChar.__init__, with apply_matrix_rect and LTComponent.set_bbox inlined."""
    self._text = text
    self.matrix = matrix
    self.fontname = font.fontname
    self.ncs = ncs
    self.graphicstate = graphicstate
    self.adv = adv = textwidth * fontsize * scaling
    vertical = font.is_vertical()
    if vertical:
        (vx, vy) = textdisp
        vx = fontsize * 0.5 if vx is None else vx * fontsize * 0.001
        vy = (1000 - vy) * fontsize * 0.001
        (bx0, by0, bx1, by1) = (-vx, vy + rise + adv, -vx + fontsize, vy + rise)
    else:
        descent = font.get_descent() * fontsize
        (bx0, by0, bx1, by1) = (0, descent + rise, adv, descent + rise + fontsize)
    (a, b, c, d, e, f) = matrix
    self.upright = a * d * scaling > 0 and b * c <= 0
    (left1, bottom1) = (a * bx0 + c * by0 + e, b * bx0 + d * by0 + f)
    (right1, bottom2) = (a * bx1 + c * by0 + e, b * bx1 + d * by0 + f)
    (right2, top1) = (a * bx1 + c * by1 + e, b * bx1 + d * by1 + f)
    (left2, top2) = (a * bx0 + c * by1 + e, b * bx0 + d * by1 + f)
    # min() and max() of four, as the builtins compare: the first of equals is kept.
    x0 = left1
    if left2 < x0:
        x0 = left2
    if right1 < x0:
        x0 = right1
    if right2 < x0:
        x0 = right2
    y0 = bottom1
    if bottom2 < y0:
        y0 = bottom2
    if top1 < y0:
        y0 = top1
    if top2 < y0:
        y0 = top2
    x1 = left1
    if left2 > x1:
        x1 = left2
    if right1 > x1:
        x1 = right1
    if right2 > x1:
        x1 = right2
    y1 = bottom1
    if bottom2 > y1:
        y1 = bottom2
    if top1 > y1:
        y1 = top1
    if top2 > y1:
        y1 = top2
    if x1 < x0:
        (x0, x1) = (x1, x0)
    if y1 < y0:
        (y0, y1) = (y1, y0)
    self.x0, self.y0, self.x1, self.y1 = x0, y0, x1, y1
    self.width = x1 - x0
    self.height = y1 - y0
    self.bbox = (x0, y0, x1, y1)
    self.size = self.width if vertical else self.height


def _expand_add(self, obj):
    """LTExpandableContainer.add, with LTContainer.add and set_bbox inlined."""
    self._objs.append(obj)
    # min(mine, its) and max(mine, its), as the builtins compare.
    x0, y0, x1, y1 = self.x0, self.y0, self.x1, self.y1
    if obj.x0 < x0:
        x0 = obj.x0
    if obj.y0 < y0:
        y0 = obj.y0
    if obj.x1 > x1:
        x1 = obj.x1
    if obj.y1 > y1:
        y1 = obj.y1
    self.x0, self.y0, self.x1, self.y1 = x0, y0, x1, y1
    self.width = x1 - x0
    self.height = y1 - y0
    self.bbox = (x0, y0, x1, y1)


def _horizontal_line_add(self, obj):
    """LTTextLineHorizontal.add."""
    if isinstance(obj, LTChar) and self.word_margin:
        (width, height) = (obj.width, obj.height)
        margin = self.word_margin * (height if height > width else width)  # max()
        if self._x1 < obj.x0 - margin:
            self._objs.append(LTAnno(" "))
    self._x1 = obj.x1
    _expand_add(self, obj)


def _group_objects(self, laparams, objs):
    """LTLayoutContainer.group_objects, with the overlap and distance methods inlined: each
    test evaluated as there, and only where there (the `and`s short-circuit alike)."""
    line_overlap, char_margin = laparams.line_overlap, laparams.char_margin
    detect_vertical, word_margin = laparams.detect_vertical, laparams.word_margin
    obj0 = None
    line = None
    for obj1 in objs:
        if obj0 is not None:
            (a0, b0, a1, b1) = (obj0.x0, obj0.y0, obj0.x1, obj0.y1)
            (c0, d0, c1, d1) = (obj1.x0, obj1.y0, obj1.x1, obj1.y1)
            hoverlapping = c0 <= a1 and a0 <= c1  # is_hoverlap
            voverlapping = d0 <= b1 and b0 <= d1  # is_voverlap
            # min(p, q) is `q if q < p else p`, max(p, q) `q if q > p else p`: the builtins.
            halign = False
            if voverlapping:
                h0, h1 = obj0.height, obj1.height
                p, q = abs(b0 - d1), abs(b1 - d0)
                if (h1 if h1 < h0 else h0) * line_overlap < (q if q < p else p):
                    if hoverlapping:
                        hdistance = 0
                    else:
                        p, q = abs(a0 - c1), abs(a1 - c0)
                        hdistance = q if q < p else p
                    w0, w1 = obj0.width, obj1.width
                    halign = hdistance < (w1 if w1 > w0 else w0) * char_margin
            valign = False
            if detect_vertical and hoverlapping:
                w0, w1 = obj0.width, obj1.width
                p, q = abs(a0 - c1), abs(a1 - c0)
                if (w1 if w1 < w0 else w0) * line_overlap < (q if q < p else p):
                    if voverlapping:
                        vdistance = 0
                    else:
                        p, q = abs(b0 - d1), abs(b1 - d0)
                        vdistance = q if q < p else p
                    h0, h1 = obj0.height, obj1.height
                    valign = vdistance < (h1 if h1 > h0 else h0) * char_margin
            if (halign and isinstance(line, LTTextLineHorizontal)) or (
                valign and isinstance(line, LTTextLineVertical)
            ):
                line.add(obj1)
            elif line is not None:
                yield line
                line = None
            elif valign and not halign:
                line = LTTextLineVertical(word_margin)
                line.add(obj0)
                line.add(obj1)
            elif halign and not valign:
                line = LTTextLineHorizontal(word_margin)
                line.add(obj0)
                line.add(obj1)
            else:
                line = LTTextLineHorizontal(word_margin)
                line.add(obj0)
                yield line
                line = None
        obj0 = obj1
    if line is None:
        line = LTTextLineHorizontal(word_margin)
        assert obj0 is not None
        line.add(obj0)
    yield line


def _render_string_horizontal(
    self,
    seq,
    matrix,
    pos,
    font,
    fontsize,
    scaling,
    charspace,
    wordspace,
    rise,
    dxscale,
    ncs,
    graphicstate,
):
    """PDFTextDevice.render_string_horizontal, with utils.translate_matrix inlined."""
    (x, y) = pos
    (a, b, c, d, e, f) = matrix
    render_char = self.render_char
    needcharspace = False
    for obj in seq:
        if isinstance(obj, int | float):
            x -= obj * dxscale
            needcharspace = True
        elif isinstance(obj, bytes):
            for cid in font.decode(obj):
                if needcharspace:
                    x += charspace
                x += render_char(
                    (a, b, c, d, x * a + y * c + e, x * b + y * d + f),
                    font,
                    fontsize,
                    scaling,
                    rise,
                    cid,
                    ncs,
                    graphicstate,
                )
                if cid == 32 and wordspace:
                    x += wordspace
                needcharspace = True
        else:
            pdfdevice.logger.warning(
                "Cannot render horizontal string because %r is not a valid int, float or bytes.",
                obj,
            )
    return (x, y)


_stock_receive_layout = converter.TextConverter.receive_layout


def _receive_layout(self, ltpage):
    """TextConverter.receive_layout into a text stream: the page's pieces joined, one write
    (stock writes each character on its own). Other outputs run stock."""
    if self.outfp_binary or self.imagewriter is not None:
        return _stock_receive_layout(self, ltpage)
    pieces: list[str] = []
    add = pieces.append

    def render(item):
        if isinstance(item, LTContainer):
            for child in item:
                render(child)
        elif isinstance(item, LTText):
            add(item.get_text())
        if isinstance(item, LTTextBox):
            add("\n")

    if self.showpageno:
        add(f"Page {ltpage.pageid}\n")
    render(ltpage)
    add("\f")
    self.outfp.write("".join(pieces))
    return None
