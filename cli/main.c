#include <stdio.h>
int main(void)
{
    puts("defender-forwarder");
    return 0;
}
