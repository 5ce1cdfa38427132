//! `cinnabar-server`: invoked like redis-server
//! (`cinnabar-server [/path/redis.conf] [--directive value ...]`).

use cinnabar_server::config::{self, Invocation};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match config::from_args(&args) {
        Ok(Invocation::Run(config)) => std::process::exit(cinnabar_server::run(*config)),
        Ok(Invocation::Version) => println!(
            "Redis server v={} sha=00000000:0 malloc=jemalloc bits=64 build=cinnabar-{}",
            cinnabar_server::REDIS_VERSION,
            cinnabar_server::CINNABAR_VERSION
        ),
        Ok(Invocation::Help) => {
            eprintln!("Usage: ./cinnabar-server [/path/to/redis.conf] [options] [-]");
            eprintln!("       ./cinnabar-server - (read config from stdin)");
            eprintln!("       ./cinnabar-server -v or --version");
            eprintln!("       ./cinnabar-server -h or --help");
            eprintln!();
            eprintln!("Examples:");
            eprintln!("       ./cinnabar-server (run the server with default conf)");
            eprintln!("       ./cinnabar-server /etc/redis/6379.conf");
            eprintln!("       ./cinnabar-server --port 7777");
            eprintln!("       ./cinnabar-server /etc/myredis.conf --loglevel verbose -");
        }
        Err(e) => {
            e.print();
            std::process::exit(1);
        }
    }
}
