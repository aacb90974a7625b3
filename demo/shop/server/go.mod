module kube-offload/demo/shop/server

go 1.26.0
