#!/bin/bash
# function_length: every C function of the repository longer than LIMIT lines
# (default 120), longest first: "lines file:line name". A function is a
# top-level "{ ... }" whose header (the text since the previous top-level
# ";" or "}") has a parenthesis and no "=" (so not an initialiser).
# Comments, strings and character constants are blanked first.
#   tests/function_length.sh [LIMIT] [FILES...]   (default: git ls-files '*.c')
limit=${1:-120}; shift 2>/dev/null
files=("$@"); [ ${#files[@]} -gt 0 ] || mapfile -t files < <(git ls-files '*.c')
for f in "${files[@]}"; do
    # blank comments, strings, char constants (keeping line numbers)
    perl -0777 -pe 's{/\*.*?\*/}{ my $c = $&; $c =~ s/[^\n]//g; $c }gse; s{//[^\n]*}{}g; s{"(\\.|[^"\\\n])*"}{""}g; s{'"'"'(\\.|[^'"'"'\\\n])*'"'"'}{0}g' "$f" |
    awk -v f="$f" -v limit="$limit" '
        { line = $0
          for (i = 1; i <= length(line); i++) {
              ch = substr(line, i, 1)
              if (depth == 0 && ch != "{" && ch != "}" && ch != ";") { if (hdr == "" && ch ~ /[ \t]/) continue; if (hdr == "") hstart = NR; hdr = hdr ch }
              if (ch == "{") { if (depth == 0) { isfn = hdr ~ /\(/ && hdr !~ /=/ && hdr !~ /^[ \t]*#/; start = hstart; name = hdr } depth++ }
              else if (ch == "}") { depth--; if (depth == 0) { if (isfn && NR - start + 1 > limit) { n = name; sub(/\(.*/, "", n); m = split(n, p, /[ \t*]+/); printf "%d %s:%d %s\n", NR - start + 1, f, start, p[m] } hdr = ""; isfn = 0 } }
              else if (ch == ";" && depth == 0) hdr = ""
          }
          if (depth == 0 && hdr != "") hdr = hdr " "
          if (depth == 0 && line ~ /^[ \t]*#/) hdr = ""
        }'
done | sort -rn
