// Placeholder until written
int sdq_placeholder(void);
