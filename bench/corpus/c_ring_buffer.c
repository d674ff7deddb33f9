#include <stdbool.h>
#include <stddef.h>

#define CAPACITY 64

typedef struct {
    int data[CAPACITY];
    size_t head;
    size_t tail;
    size_t count;
} ring_buffer;

bool rb_push(ring_buffer *rb, int value) {
    if (rb->count == CAPACITY) {
        return false;
    }
    rb->data[rb->tail] = value;
    rb->tail = (rb->tail + 1) % CAPACITY;
    rb->count++;
    return true;
}

bool rb_pop(ring_buffer *rb, int *out) {
    if (rb->count == 0) {
        return false;
    }
    *out = rb->data[rb->head];
    rb->head = (rb->head + 1) %
