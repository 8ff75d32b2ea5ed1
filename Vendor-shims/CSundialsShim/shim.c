int sdq_placeholder(void) { return 0; }
