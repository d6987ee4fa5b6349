package source

// Pool is the shared pool, for tests to close its idle connections.
var Pool = pool
