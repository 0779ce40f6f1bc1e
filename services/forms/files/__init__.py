"""Files of the forms service: uploads that answer FILE fields (FileService), their expiry, and
what submissions do with them (attachments.SubmissionFiles)."""
