/* Keywords of the defender() source and its CfgParser. */
#include "defender-parser.h"
#include "defender-grammar.h"
#include "driver.h"

extern int defender_debug;

int defender_parse(CfgLexer *lexer, LogDriver **instance, gpointer arg);

static CfgLexerKeyword defender_keywords[] = {
    {"defender", KW_DEFENDER},
    {"config", KW_DEFENDER_CONFIG},
    {"setting", KW_DEFENDER_SETTING},
    {NULL},
};

CfgParser defender_parser = {
#if SYSLOG_NG_ENABLE_DEBUG
    .debug_flag = &defender_debug,
#endif
    .name = "defender",
    .keywords = defender_keywords,
    .parse = (gint(*)(CfgLexer *, gpointer *, gpointer))defender_parse,
    .cleanup = (void (*)(gpointer))log_pipe_unref,
};

CFG_PARSER_IMPLEMENT_LEXER_BINDING(defender_, DEFENDER_, LogDriver **)
