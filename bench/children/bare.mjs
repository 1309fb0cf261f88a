// Bare node: what starting a process costs before any of our code, reported the way every child
// reports (the parent times spawn -> this line).
process.stdout.write('BENCH {}\n');
