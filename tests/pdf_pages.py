"""A PDF read back as a user sees it: each page rendered to an image by PDFium (pypdfium2, the dev
extra) with its text, so tests judge pages by their pixels and words, not by how they were made."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Page:
    image: np.ndarray  # height x width x 3, uint8
    text: str
    images: int  # embedded pictures (the charts)

    @property
    def ink(self) -> float:
        """Share of the page's body (between the running head and the foot) that is not white: 0 for a
        page with nothing on it but its frame."""
        height = self.image.shape[0]
        body = self.image[int(height * 0.08):int(height * 0.92)]
        return float((body.min(axis=2) < 235).mean())

    @property
    def colour(self) -> float:
        """Share of clearly coloured pixels (charts), as against grey text and rules."""
        channels = self.image.astype(int)
        return float(((channels.max(axis=2) - channels.min(axis=2)) > 60).mean())


def read_pdf(content: bytes, scale: float = 1.0) -> list[Page]:
    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    document = pdfium.PdfDocument(content)
    pages = []
    for page in document:
        image = np.asarray(page.render(scale=scale).to_pil().convert("RGB"))
        text = page.get_textpage().get_text_bounded()
        pictures = sum(1 for _ in page.get_objects(filter=(raw.FPDF_PAGEOBJ_IMAGE,)))
        pages.append(Page(image, text, pictures))
    document.close()
    return pages
