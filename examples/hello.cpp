// hello: the first goroutine, after the Go program
//
//   func HelloGoRoutine() { fmt.Println("Hello Goroutine") }
//
//   func main() {
//       go HelloGoRoutine()
//       time.Sleep(1 * time.Second)
//       fmt.Println("main function ended")
//   }
//
// Output:
//   Hello Goroutine
//   main function ended
//
// As in Go, returning from main ends the program at once, goroutines still
// running or not yet started included. Run it with --no-sleep to see that:
// main then ends before the goroutine gets to print, and the only line is
// "main function ended".
#include "goro.hpp"

#include <chrono>
#include <cstdio>
#include <cstring>

void HelloGoRoutine() { std::puts("Hello Goroutine"); }

int main(int argc, char** argv) {
  const bool sleep = !(argc > 1 && std::strcmp(argv[1], "--no-sleep") == 0);

  goro::go(HelloGoRoutine);  // go HelloGoRoutine()

  if (sleep) {
    // time.Sleep(1 * time.Second): main waits, and the goroutine runs meanwhile.
    goro::sleep_for(std::chrono::seconds(1));
  }
  std::puts("main function ended");
  // Returning from main ends the program, as in Go: a goroutine still
  // running is not waited for.
  return 0;
}
