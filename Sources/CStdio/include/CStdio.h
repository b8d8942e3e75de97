#ifndef CANOPY_CSTDIO_H
#define CANOPY_CSTDIO_H

// C's `stdout` is a mutable global, which Swift 6's strict concurrency will not let Swift name.
// Makes standard output line-buffered wherever it goes (a file or a pipe as much as a terminal).
void canopy_line_buffer_stdout(void);

#endif
