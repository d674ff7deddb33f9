#include <stdio.h>

int copy_file(const char *from, const char *to) {
    FILE *in = fopen(from, "rb");
    if (in == NULL) {
        perror(from);
        return -1;
    }
    FILE *out = fopen(to, "wb");
    if (out == NULL) {
        perror(to);
        fclose(in);
        return -1;
    }
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, in)) > 0) {
        fwrite(buffer, 1, n, out);
    }
    fclose(in);
    fclose(
