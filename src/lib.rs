//! Examples and integration tests for the workspace.
