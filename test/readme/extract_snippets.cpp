// readme_snippets' extractor: writes every ```cpp block of a Markdown file as a program.
//   shmkit-test-readme-extract <README.md> <out dir> <segment-name prefix>
// A block with its own main() is written as is. Otherwise its #include lines and its top-level
// struct/class definitions (up to the "};" that closes them at column 0) stay at file scope and
// every other line goes into main(), after #include <shmkit/shmkit.hpp> and the std headers
// snippets use unannounced. Segment names passed as string literals to Segment::create/open/
// remove and SegmentView::open get the prefix, so concurrent runs never share a segment.
// Prints the paths written, one a line.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

std::string prefixed_names(std::string line, const std::string& prefix) {
  for (const char* call : {"Segment::create(\"", "Segment::open(\"", "Segment::remove(\"", "SegmentView::open(\""}) {
    const std::string c = call;
    for (std::size_t at = line.find(c); at != std::string::npos; at = line.find(c, at + c.size() + prefix.size()))
      line.insert(at + c.size(), prefix);
  }
  return line;
}

std::string program(const std::vector<std::string>& block, const std::string& prefix) {
  bool has_main = false;
  for (const auto& l : block) has_main = has_main || l.find("int main(") != std::string::npos;
  std::ostringstream top, body;
  top << "// Extracted from the README by shmkit-test-readme-extract.\n";
  if (has_main) {
    for (const auto& l : block) top << prefixed_names(l, prefix) << "\n";
    return top.str();
  }
  top << "#include <shmkit/shmkit.hpp>\n\n#include <atomic>\n#include <chrono>\n#include <cstdint>\n"
         "#include <mutex>\n#include <span>\n#include <string>\n#include <string_view>\n";
  bool in_type = false;
  for (const auto& raw : block) {
    const std::string l = prefixed_names(raw, prefix);
    if (in_type) {
      top << l << "\n";
      if (starts_with(l, "};")) in_type = false;
    } else if (starts_with(l, "#include")) {
      top << l << "\n";
    } else if (starts_with(l, "struct ") || starts_with(l, "class ") || starts_with(l, "template ") ||
               starts_with(l, "SHMKIT_TYPE_NAME(")) {
      top << l << "\n";
      in_type = l.find("};") == std::string::npos && !starts_with(l, "SHMKIT_TYPE_NAME(");
    } else {
      body << "  " << l << "\n";
    }
  }
  return top.str() + "\nint main() {\n" + body.str() + "  return 0;\n}\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: " << argv[0] << " <README.md> <out dir> <segment-name prefix>\n";
    return 2;
  }
  std::ifstream in(argv[1]);
  if (!in) {
    std::cerr << "cannot read " << argv[1] << "\n";
    return 1;
  }
  std::vector<std::string> block;
  bool in_block = false;
  int count = 0;
  for (std::string line; std::getline(in, line);) {
    if (!in_block && line == "```cpp") {
      in_block = true;
      block.clear();
    } else if (in_block && line == "```") {
      in_block = false;
      const std::string path = std::string(argv[2]) + "/snippet_" + std::to_string(++count) + ".cpp";
      std::ofstream(path) << program(block, argv[3]);
      std::cout << path << "\n";
    } else if (in_block) {
      block.push_back(line);
    }
  }
  if (count == 0) {
    std::cerr << "no ```cpp block in " << argv[1] << "\n";
    return 1;
  }
  return 0;
}
