"""Document rendering: plain JSON-able data in, PDF (and Factur-X XML) out.

Nothing in this package touches the ORM. Callers build a document dict (see ``data.py``),
then call ``document_pdf_render`` (with ``facturx=True`` for invoices and credit notes: a
Factur-X EN 16931 PDF/A-3b in one compile). ``facturx_xml_build`` gives the XML alone and
``facturx_pdf_embed`` embeds it into any other PDF. docs/documents.md describes the data model
and the template rules.
"""
