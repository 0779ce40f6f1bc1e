"""Files of the forms service: uploads that answer FILE fields (FileService), their expiry, and
the port submissions use for them (references.FileReferences, implemented by
attachments.SubmissionFiles)."""

from services.forms.files.references import FileAnswer, FileReferences, RefusedFile, file_answers

__all__ = ["FileAnswer", "FileReferences", "RefusedFile", "file_answers"]
