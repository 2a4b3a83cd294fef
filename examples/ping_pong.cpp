// ping_pong: two goroutines hit a ball back and forth over unbuffered channels.
//
// The Go program it mirrors:
//
//   func player(in <-chan Ball, out, table chan<- Ball, last int) {
//       for ball := range in {
//           ball.hits++
//           if ball.hits == last { table <- ball } else { out <- ball }
//       }
//   }
//   go player(toPing, toPong, table, 2*n)
//   go player(toPong, toPing, table, 2*n)
//   toPing <- Ball{}   // serve
//   ball := <-table    // game over
//
// An unbuffered channel is a rendezvous: every pass hands the ball from one
// goroutine straight to the other, so at any moment exactly one of them holds
// it and the counter needs no lock.
//
// Usage: ping_pong [round trips]   (default 1000)
#include "goro.hpp"

#include <cstdio>
#include <cstdlib>

namespace {

struct ball {
  long hits = 0;
};

// func player(in <-chan Ball, out, table chan<- Ball, last int)
// The directional views make the compiler enforce who may send and receive.
void player(goro::recv_chan<ball> in, goro::send_chan<ball> out, goro::send_chan<ball> table,
            long last_hit, goro::wait_group* wg) {
  for (ball b : in) {  // for b := range in: ends when main closes `in`
    ++b.hits;
    // The ball is a value, moved along the channels, so the hit that ends the
    // game goes back to main instead of to the other player.
    if (b.hits == last_hit) {
      table.send(b);
    } else {
      out.send(b);
    }
  }
  wg->done();  // defer wg.Done()
}

}  // namespace

int main(int argc, char** argv) {
  const long rounds = argc > 1 ? std::atol(argv[1]) : 1000;
  if (rounds <= 0) {
    std::fprintf(stderr, "usage: %s [round trips > 0]\n", argv[0]);
    return 2;
  }

  auto to_ping = goro::make_chan<ball>();  // make(chan Ball): unbuffered
  auto to_pong = goro::make_chan<ball>();
  auto table = goro::make_chan<ball>();

  goro::wait_group wg;  // lives on main's stack; main waits, so the pointer stays valid
  wg.add(2);
  goro::go(player, to_ping, to_pong, table, 2 * rounds, &wg);  // go player(...)
  goro::go(player, to_pong, to_ping, table, 2 * rounds, &wg);

  to_ping.send(ball{});                   // serve: main is a plain thread, it just blocks
  const ball final_ball = *table.recv();  // b := <-table

  // Nobody is sending any more: closing ends both players' range loops.
  to_ping.close();
  to_pong.close();
  wg.wait();

  std::printf("ping-pong: %ld round trips, %ld hits\n", final_ball.hits / 2, final_ball.hits);
  return final_ball.hits == 2 * rounds ? 0 : 1;
}
