// must compile: the correct counterpart of every misuse in this directory, with the same
// includes, so a failure elsewhere here is known to come from the misuse and not the setup.
#include <goro/goro.hpp>

#include <chrono>
#include <memory>

int main() {
  goro::chan<int> c = goro::make_chan<int>(4);
  goro::recv_chan<int> in = c;
  goro::send_chan<int> out = c;
  out.send(1);                      // send on the send side
  int sum = in.recv().value_or(0);  // receive on the receive side
  goro::chan<int> copy = c;         // a chan<int> copies from a chan<int>
  copy.send(2);
  sum += goro::select(goro::case_recv(in), goro::case_default()) == 0 ? 1 : 0;
  sum += goro::select(goro::case_send(out, 3), goro::case_default()) == 0 ? 1 : 0;
  out.close();                // close from the send side
  for (int v : in) sum += v;  // range over the receive side

  auto p = goro::make_chan<std::unique_ptr<int>>(1);
  auto u = std::make_unique<int>(1);
  p.send(std::move(u));                      // move-only values are moved in
  goro::ticker tk(std::chrono::seconds(1));  // a named ticker's and timer's channels
  goro::timer tm(std::chrono::seconds(1));
  auto tick_chan = tk.chan();
  auto timer_chan = tm.chan();
  auto forever = goro::tick(std::chrono::seconds(1));  // time.Tick
  sum += tick_chan == timer_chan || !forever ? 0 : 1;
  return sum > 0 ? 0 : 1;
}
