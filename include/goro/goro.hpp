// goro.hpp: the whole library. Include this (or the amalgamated
// single_include/goro.hpp, which is the same API in one file).
//
// Layers, bottom up (see docs/design.md):
//   config.hpp                        platform, version, switches
//   detail/context*.hpp, stack*.hpp   execution contexts and their stacks
//   detail/parker.hpp                 blocking an OS thread
//   detail/scheduler.hpp, run_queue.hpp, global_queue.hpp, idle_list.hpp,
//     timer_heap.hpp                  M:N scheduling
//   detail/wait/*.hpp                 the wait layer: waiter, wait queue, park,
//                                     wake, block, wait reasons
//   runtime.hpp                       go, yield, sleep, runtime
//   detail/poll_*.hpp, netpoller.hpp, fd_wait.hpp   the netpoller
//   io.hpp                            wait_readable, wait_writable, close_fd
//   sync.hpp                          wait_group, mutex, semaphore, once
//   detail/chan_core.hpp, chan.hpp    channels
//   detail/select_core.hpp, select.hpp  select
//   time.hpp                          after, timer, ticker
//   blocking.hpp                      blocking: a blocking call on a helper thread
//   context.hpp                       cancellation, deadlines, values; context-aware waits
//   errgroup.hpp                      a group of goroutines with the first error
//   net.hpp, net/*.hpp                listen, dial, listener, conn (Go's net)
#ifndef GORO_GORO_HPP
#define GORO_GORO_HPP

#include "blocking.hpp"
#include "chan.hpp"
#include "config.hpp"
#include "context.hpp"
#include "errgroup.hpp"
#include "errors.hpp"
#include "io.hpp"
#include "net.hpp"
#include "runtime.hpp"
#include "select.hpp"
#include "sync.hpp"
#include "time.hpp"

#endif
