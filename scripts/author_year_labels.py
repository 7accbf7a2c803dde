"""Reference lists labelled as the text cites them: "[Hodgkin and Huxley, 1952]" (issue 26).

A local Sphinx extension (``_config.yml``: ``sphinx: local_extensions:``). The chapters cite
author-year (``bibtex_reference_style: author_year``), but pybtex's styles label a list
with numbers ([1], [2]) or letters ([HH52]), so a reader could not find "Sherman et al.,
1988" in it. It registers the pybtex formatting style ``author_year``: the ``plain`` style
(entries sorted by author, year and title) with each label the parenthetical citation's
own text, made by sphinxcontrib-bibtex's author_year template.
"""
from __future__ import annotations

from pybtex.plugin import find_plugin, register_plugin
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle
from sphinxcontrib.bibtex.style.referencing.author_year import AuthorYearReferenceStyle
from sphinxcontrib.bibtex.style.template import join, year

_CITATION = AuthorYearReferenceStyle()
_TEMPLATE = join(sep=_CITATION.author_year_sep)[
    _CITATION.person.author_or_editor_or_title(full=False), year]
# The pages' backend, so that a label keeps the no-break space of "de Silva" as the text does.
_DOCUTILS = find_plugin("pybtex.backends", "docutils")()


def label(entry) -> str:
    """What ``{cite:p}`` prints for ``entry``, without brackets: "Sherman et al., 1988"."""
    text = _TEMPLATE.format_data({"entry": entry, "style": _CITATION})
    return "".join(node.astext() for node in text.render(_DOCUTILS))


class AuthorYearLabelStyle(BaseLabelStyle):
    def format_labels(self, sorted_entries):
        return (label(entry) for entry in sorted_entries)


class AuthorYearStyle(PlainStyle):
    default_label_style = "author_year"


register_plugin("pybtex.style.labels", "author_year", AuthorYearLabelStyle)
register_plugin("pybtex.style.formatting", "author_year", AuthorYearStyle)


def setup(app):
    # Registering happens on import; Sphinx needs a setup() to load the module.
    return {"parallel_read_safe": True, "parallel_write_safe": True}
