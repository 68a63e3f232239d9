#include <iostream>

int main() {
  std::cout << "workmonitor-agent " << WM_VERSION << "\n";
  return 0;
}
