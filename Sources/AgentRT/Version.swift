// The C API implementation.
