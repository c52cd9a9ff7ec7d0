# What every nginx origin of the integration tests shares. Needs lib/netns.sh first.
#   nginx_conf_head DIR CONNECTIONS   prints the start of an nginx.conf that runs in the
#                                     foreground with one worker, keeps its pid, error log and
#                                     temp files in DIR, and opens `http {`: the caller appends
#                                     its http lines and the closing brace
# nginx's workers drop to nobody: DIR must be searchable and DIR/nginx-tmp writable by them.

nginx_conf_head() {  # DIR CONNECTIONS
  local dir=$1
  mkdir -p "$dir/nginx-tmp"
  chmod 777 "$dir/nginx-tmp"
  chmod 755 "$dir"
  cat <<CONF
daemon off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log;
events { worker_connections $2; }
http {
  client_body_temp_path $dir/nginx-tmp/body;
  proxy_temp_path $dir/nginx-tmp/proxy;
  fastcgi_temp_path $dir/nginx-tmp/fastcgi;
  uwsgi_temp_path $dir/nginx-tmp/uwsgi;
  scgi_temp_path $dir/nginx-tmp/scgi;
CONF
}
