/*
 * Intrusive doubly linked lists: the elements are structs with prev and next pointers to their
 * own type, the list is a pointer to the first one (NULL: empty). Push at the front and unlink
 * are O(1); nothing is allocated. Used for the objects a module must reach at teardown (pending
 * handshakes, HTTP connections, requests in flight, authenticated sessions, broadcasts with acks).
 */
#ifndef SIO_COMMON_LIST_H
#define SIO_COMMON_LIST_H

/** Puts x at the front of the list head. head and x are evaluated more than once: plain lvalues
 *  only. */
#define SIO_LIST_PUSH(head, x)                                                                     \
    do {                                                                                           \
        (x)->prev = NULL;                                                                          \
        (x)->next = (head);                                                                        \
        if (head)                                                                                  \
            (head)->prev = (x);                                                                    \
        (head) = (x);                                                                              \
    } while (0)

/** Takes x out of the list head and clears its links; an x that is in no list (both links NULL
 *  and not the head) is left as it is. head and x are evaluated more than once. */
#define SIO_LIST_UNLINK(head, x)                                                                   \
    do {                                                                                           \
        if ((x)->prev)                                                                             \
            (x)->prev->next = (x)->next;                                                           \
        else if ((head) == (x))                                                                    \
            (head) = (x)->next;                                                                    \
        if ((x)->next)                                                                             \
            (x)->next->prev = (x)->prev;                                                           \
        (x)->prev = (x)->next = NULL;                                                              \
    } while (0)

#endif
