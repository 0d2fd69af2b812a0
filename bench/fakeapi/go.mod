module defender-forwarder/bench/fakeapi

go 1.24
