/* The defender() source's configuration parser (bison grammar in defender-grammar.ym). */
#ifndef DEFENDER_PARSER_H
#define DEFENDER_PARSER_H

#include "cfg-parser.h"
#include "cfg-lexer.h"
#include "driver.h"

extern CfgParser defender_parser;

CFG_PARSER_DECLARE_LEXER_BINDING(defender_, DEFENDER_, LogDriver **)

#endif
