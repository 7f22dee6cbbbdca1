/* vector_contract.h: the contract every vector store backend passes, written once against
 * visor_vector_store. A backend's test program calls visor_vector_contract_run with a URL
 * (each test uses its own fresh collection under it). */
#ifndef VISOR_TESTS_VECTOR_CONTRACT_H
#define VISOR_TESTS_VECTOR_CONTRACT_H

/* Runs the contract group against url; returns the number of failed tests. */
int visor_vector_contract_run(const char *group_name, const char *url);

#endif
