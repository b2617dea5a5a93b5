"""Form classes (WTForms): parse and check what a page posts, answer in Chinese per field."""
