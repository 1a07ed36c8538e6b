"""Self-contained HTML reports and embeddable figure fragments.

Reports never run models: they are assembled from results that the caller has
already computed. Build one with :class:`Report`, add sections, then
:meth:`Report.write` a folder (HTML, CSV of every plotted series, optional
fragments) atomically.
"""

from pvsd.document import Report, figure_fragment, plotly_js

__all__ = ["Report", "figure_fragment", "plotly_js"]
