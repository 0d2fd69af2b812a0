"""Docs that say only what is true, checked against the built command: the commands and options
of `--help` are those of defender-forwarder(1); man(1) lists every output of the build and no
other; every `defender-forwarder COMMAND` that README.md, docs/ or packaging/ name exists; no page
names a host plugin that is not in the tree; the package's version is the program's.

How a command is recognised, so that prose ("defender-forwarder reads ...") is not: in Markdown,
inside code (`...` or fenced blocks); in man pages, in bold (the command word after a bold
"defender-forwarder", options and their arguments skipped); in configuration files and units, after
"/usr/bin/" or after two blanks (an indented example in a comment). Write new examples that way."""

import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SRC = harness.SRC
MAN1 = os.path.join(SRC, "docs", "defender-forwarder.1")
WORD = re.compile(r"[a-z][a-z-]*")
TAKES_ARG = {"-c", "--config"}


# ---- roff: words with their font -----------------------------------------------------------

def _roff_text(s):
    s = s.replace("\\-", "-").replace("\\e", "\\").replace("\\&", "").replace("\\ ", " ")
    return re.sub(r"\\\(..|\\\[[^]]*\]", " ", s)


def roff_words(path):
    """[(word, bold)] of a man page, in reading order; macro names and section titles dropped."""
    out = []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith(".\\\""):
                continue
            m = re.match(r"\.(B|I|BI|IB|BR|RB|IR|RI|SH|SS|TP|TQ|PP|RS|RE|br|nf|fi|IP|TH|nh|ad)\b"
                         r"\s*(.*)", line)
            if m is None:
                if line.startswith("."):
                    continue
                parts = [(line, None)]
            else:
                macro, args = m.groups()
                if macro in ("SH", "SS", "TH", "TP", "TQ", "PP", "RS", "RE", "br", "nf", "fi",
                             "IP", "nh", "ad"):
                    if macro in ("SH", "SS", "TP", "TQ", "PP", "IP"):
                        out.append(("\n", False))  # a new paragraph: no command across it
                    continue
                try:
                    argv = shlex.split(args.replace("\\", "\\\\"), posix=True)
                except ValueError:
                    argv = args.split()
                fonts = {"B": "B", "I": "I", "BI": "BI", "IB": "IB", "BR": "BR", "RB": "RB",
                         "IR": "IR", "RI": "RI"}[macro]
                if len(fonts) == 1:
                    parts = [(" ".join(argv), fonts == "B")]
                else:
                    parts = [(a, fonts[i % 2] == "B") for i, a in enumerate(argv)]
            for text, bold in parts:
                # inline font changes; bold None: starts in the roman font
                cur = bool(bold)
                for piece in re.split(r"(\\f[BIRP])", text.replace("\\\\", "\\")):
                    if piece in ("\\fB",):
                        cur = True
                    elif piece in ("\\fI", "\\fR", "\\fP"):
                        cur = False
                    else:
                        out += [(w, cur) for w in _roff_text(piece).split()]
    return out


def roff_commands(path):
    """The command words a man page names after a bold defender-forwarder."""
    words, found = roff_words(path), []
    for i, (w, bold) in enumerate(words):
        if not (bold and w == "defender-forwarder"):
            continue
        j = i + 1
        while j < len(words) - 1:
            t = words[j][0].strip("[]|")
            if t.startswith("-"):
                j += 2 if t in TAKES_ARG else 1
            elif t == "":
                j += 1
            else:
                break
        w = words[j][0].strip("[]|") if j < len(words) else ""
        if words[j][1] and WORD.fullmatch(w) and w != "defender-forwarder":
            found.append(w)
    return found


def section(path, name):
    """The lines of one .SH section of a man page."""
    lines, inside = [], False
    with open(path) as f:
        for line in f:
            if line.startswith(".SH"):
                inside = line.split(None, 1)[1].strip().strip('"') == name
                continue
            if inside:
                lines.append(line.rstrip("\n"))
    return lines


def tag_lines(lines):
    """The lines that follow .TP (the tags of a tagged list)."""
    return [lines[i + 1] for i, l in enumerate(lines[:-1]) if l.startswith(".TP")]


def plain(roff_line):
    s = re.sub(r"^\.(B|I|BI|IB|BR|RB|IR|RI)\s+", "", roff_line)
    s = re.sub(r"\\f[BIRP]", "", s).replace('"', "")
    return _roff_text(s)


# ---- Markdown and plain text -----------------------------------------------------------------

def words_after(tokens):
    """The command word in tokens that follow "defender-forwarder", or None."""
    j = 0
    while j < len(tokens):
        t = tokens[j].strip("[]|")
        if t.startswith("-"):
            j += 2 if t in TAKES_ARG else 1
        elif t == "":
            j += 1
        else:
            return t if WORD.fullmatch(t) else None
    return None


def _is_name(token):
    return token == "defender-forwarder" or token == "/usr/bin/defender-forwarder"


def code_commands(code):
    found = []
    for line in code.splitlines():
        tokens = line.replace("`", " ").split()
        for i, t in enumerate(tokens):
            if _is_name(t):
                w = words_after(tokens[i + 1:])
                if w:
                    found.append(w)
    return found


def markdown_commands(path):
    with open(path) as f:
        text = f.read()
    found = []
    for block in re.findall(r"^```[^\n]*\n(.*?)^```", text, re.S | re.M):
        found += code_commands(block)
    text = re.sub(r"^```[^\n]*\n.*?^```", "", text, flags=re.S | re.M)
    for span in re.findall(r"`([^`\n]+)`", text):
        found += code_commands(span)
    return found


def text_commands(path):
    found = []
    with open(path, errors="replace") as f:
        for line in f:
            for m in re.finditer(r"(?:(?<=\s\s)|(?<=/usr/bin/))defender-forwarder\s+(.*)", line):
                w = words_after(m.group(1).split())
                if w:
                    found.append(w)
    return found


def doc_files():
    md = [os.path.join(SRC, "README.md")] + sorted(glob.glob(os.path.join(SRC, "docs", "*.md")))
    man = sorted(glob.glob(os.path.join(SRC, "docs", "*.[1-8]")))
    text = []
    for sub in ("examples", "etc", "systemd"):
        text += sorted(glob.glob(os.path.join(SRC, "packaging", sub, "*")))
    text += sorted(glob.glob(os.path.join(SRC, "packaging", "debian", "*.post*")))
    return md, man, text


# ---- the built command -------------------------------------------------------------------------

def help_text():
    r = subprocess.run([harness.BIN, "--help"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


def help_block(text, title):
    lines = text.splitlines()
    start = lines.index(title) + 1
    block = []
    for line in lines[start:]:
        if not line.strip():
            break
        block.append(line)
    return block


def signature(words):
    """The leading command words of a usage line: "state show", "run", "check-config"."""
    sig = []
    for w in words:
        if not WORD.fullmatch(w):
            break
        sig.append(w)
    return " ".join(sig)


class Docs(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="dfw-docs-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.help = help_text()
        # "  state show [TENANT]        print ...": the usage ends at two blanks
        self.commands = {signature(re.split(r"\s{2,}", l.strip())[0].split())
                         for l in help_block(self.help, "Commands:") if re.match(r"  [a-z]", l)}
        self.command_words = {c.split()[0] for c in self.commands}

    def test_help_commands_are_the_man_page_commands(self):
        man = {signature(plain(t).split()) for t in tag_lines(section(MAN1, "COMMANDS"))}
        self.assertEqual(self.commands, man, "--help and defender-forwarder(1) COMMANDS differ")
        self.assertEqual(set(roff_commands(MAN1)), self.command_words,
                         "defender-forwarder(1) names other commands than --help")

    def test_help_options_are_the_man_page_options(self):
        opts = set(re.findall(r"(?<![\w-])(-[A-Za-z]|--[a-z][a-z-]+)",
                              "\n".join(help_block(self.help, "Options:"))))
        man = set()
        for t in tag_lines(section(MAN1, "OPTIONS")):
            man |= set(re.findall(r"(?<![\w-])(-[A-Za-z]|--[a-z][a-z-]+)", plain(t)))
        self.assertEqual(opts, man, "--help Options and defender-forwarder(1) OPTIONS differ")
        # the command options (run --once, --progress, ...) are documented too
        cmd_opts = set(re.findall(r"(--[a-z][a-z-]+)", "\n".join(help_block(self.help,
                                                                             "Commands:"))))
        man_text = " ".join(w for w, _ in roff_words(MAN1))
        for o in cmd_opts:
            self.assertIn(o, man_text, f"{o} of --help is not in defender-forwarder(1)")

    def test_man_page_lists_every_output(self):
        m = re.search(r"^Outputs in this build:(.*)$", self.help, re.M)
        built = set(m.group(1).split())
        man = {plain(t).split()[0] for t in tag_lines(section(MAN1, "OUTPUTS"))}
        self.assertLessEqual(built, man, "outputs of this build missing in defender-forwarder(1)")
        in_tree = {d for d in os.listdir(os.path.join(SRC, "outputs"))
                   if os.path.isdir(os.path.join(SRC, "outputs", d))}
        self.assertLessEqual(man, in_tree, "defender-forwarder(1) names outputs not in outputs/")

    def test_every_named_command_exists(self):
        md, man, text = doc_files()
        named = []
        for p in md:
            named += [(p, w) for w in markdown_commands(p)]
        for p in man:
            named += [(p, w) for w in roff_commands(p)]
        for p in text:
            named += [(p, w) for w in text_commands(p)]
        self.assertGreater(len(named), 15, "the scan found almost nothing: it proves nothing")
        wrong = sorted({(os.path.relpath(p, SRC), w) for p, w in named
                        if w not in self.command_words})
        self.assertEqual(wrong, [], f"commands that do not exist (have: {self.command_words})")

    def test_the_scan_recognises_commands_and_skips_prose(self):
        self.assertEqual(code_commands("defender-forwarder -c /etc/x.conf authorize contoso"),
                         ["authorize"])
        self.assertEqual(code_commands("ExecStart=/usr/bin/defender-forwarder -v run"), [])
        self.assertEqual(code_commands("/usr/bin/defender-forwarder -c f run --once"), ["run"])
        self.assertEqual(code_commands("cat /var/lib/defender-forwarder lock"), [])
        self.assertEqual(words_after(["[-c", "FILE]", "COMMAND"]), None)
        page = os.path.join(self.tmp, "x.1")
        with open(page, "w") as f:
            f.write(".SH SYNOPSIS\n.B defender-forwarder\n[\\fB\\-c\\fR \\fIFILE\\fR] "
                    "\\fBonboard\\fR\n.SH DESCRIPTION\n.B defender\\-forwarder\nreads the API; "
                    "run \\fBdefender\\-forwarder authorize\\fR \\fINAME\\fR.\n")
        self.assertEqual(roff_commands(page), ["onboard", "authorize"])
        conf = os.path.join(self.tmp, "x.conf")
        with open(conf, "w") as f:
            f.write("# defender-forwarder example configuration\n#   defender-forwarder frob\n"
                    "ExecStart=/usr/bin/defender-forwarder -c /etc/x run --once\n")
        self.assertEqual(text_commands(conf), ["frob", "run"])

    def test_package_version_is_the_program_version(self):
        with open(os.path.join(SRC, "packaging", "debian", "changelog")) as f:
            version = re.match(r"defender-forwarder \(([^)-]+)-[^)]+\)", f.readline()).group(1)
        r = subprocess.run([harness.BIN, "--version"], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.stdout, f"defender-forwarder {version}\n",
                         "packaging/debian/changelog and the program disagree on the version")

    def test_no_page_names_a_plugin_that_is_not_in_the_tree(self):
        md, man, text = doc_files()
        marks = {"syslog-ng": (r"defender-forwarder-syslog-ng", r"source\s*\{\s*defender\("),
                 "rsyslog": (r"defender-forwarder-rsyslog", r"imdefender")}
        for plugin, patterns in marks.items():
            if os.path.isdir(os.path.join(SRC, "plugins", plugin)):
                continue
            for p in md + man + text:
                with open(p, errors="replace") as f:
                    content = f.read()
                for pat in patterns:
                    self.assertIsNone(re.search(pat, content),
                                      f"{os.path.relpath(p, SRC)} names the {plugin} plugin "
                                      f"({pat}), which is not in plugins/{plugin}")


if __name__ == "__main__":
    unittest.main()
