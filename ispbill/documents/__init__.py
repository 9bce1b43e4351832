"""Document rendering: plain JSON-able data in, PDF (and Factur-X XML) out.

Nothing in this package touches the ORM. Callers build a document dict (see ``data.py``),
then call ``document_pdf_render`` and, for invoices and credit notes, ``facturx_xml_build`` and
``facturx_pdf_embed``. docs/documents.md describes the data model and the template rules.
"""
