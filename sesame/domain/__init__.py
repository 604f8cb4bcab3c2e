"""The domain: pure Python, no HTTP, no SQL, no wall clock."""
