// Small widget helpers the tray's windows share.
#pragma once

#include <string>
#include <vector>

#include <QLabel>
#include <QString>

namespace wm::tray {

/// A word-wrapped label showing `text` as plain text: what the agent or a company profile sends is never
/// read as HTML.
inline QLabel* plainLabel(const std::string& text, const char* object_name, QWidget* parent = nullptr) {
  auto* label = new QLabel(QString::fromStdString(text), parent);
  label->setTextFormat(Qt::PlainText);
  label->setWordWrap(true);
  label->setObjectName(QString::fromLatin1(object_name));
  return label;
}

/// The lines joined for one label.
inline std::string joinLines(const std::vector<std::string>& lines, const char* empty_text) {
  if (lines.empty()) return empty_text;
  std::string out;
  for (const auto& l : lines) {
    if (!out.empty()) out += "\n";
    out += l;
  }
  return out;
}

}  // namespace wm::tray
