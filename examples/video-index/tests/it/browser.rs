//! The search page in a real headless Chromium: a person searches with filters and follows a
//! result to its instance.
